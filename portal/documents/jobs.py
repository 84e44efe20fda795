"""Job contracts of the documents domain (handlers in `workers/documents.py`)."""
