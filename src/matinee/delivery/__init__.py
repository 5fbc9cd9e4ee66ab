"""Signed delivery: URL tokens, safe paths, manifests cut to a plan's height, host steering.

The playback service signs (``tokens.UrlSigner``) and asks steering for hosts
(``steering.Steering``); the origin (and, with the CDN, every edge) checks each request with
``access.SignedAccess`` and serves manifests through ``manifests.filter_manifest``.
"""
