"""The chat service: WebSockets in front, DynamoDB for what must last, Redis between tasks."""

__version__ = "0.1.0"
