"""Event log adapters: where MOS events are appended, read back and subscribed to."""
