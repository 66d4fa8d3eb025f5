"""Pure domain core: events, aggregates, validation and errors. No I/O lives here."""
