"""Postfix + Dovecot relay test bed (see README.md in this directory)."""
