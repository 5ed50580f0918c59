"""The checks, one module per behaviour family; each test implements one catalogue id."""
