"""Property-based tests (hypothesis) of the input validation every model-supplied value reaches."""
