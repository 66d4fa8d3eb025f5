"""Language-model clients that the SDK's chat can use."""
