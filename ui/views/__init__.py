"""Views: the inspector, the wire list, the hex view."""
