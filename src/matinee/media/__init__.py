"""The media pipeline: probe, ladder, chunked encode, stitch, package, quality."""
