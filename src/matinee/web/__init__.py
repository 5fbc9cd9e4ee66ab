"""The web front: a page that lists and plays titles, and media served from the object store."""
