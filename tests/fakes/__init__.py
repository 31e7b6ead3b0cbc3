"""Local stand-ins for outside services, served on loopback in tests."""
