"""Model runtime (activation / parametric memory): arrives with the model-runtime issue."""
