"""CSV parsing for imports: cell conversion by schema type (``coercion``)."""
