"""chatops: deploy the chat stack and move traffic between blue and green."""

__version__ = "0.1.0"
