"""Embedded (serverless) adapters: everything in one directory on disk."""
