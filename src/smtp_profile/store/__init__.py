"""Everything that talks to the database lives in this package."""
