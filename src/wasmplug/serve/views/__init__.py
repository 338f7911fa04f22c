"""The serve app's endpoints, one module per family of pages."""
