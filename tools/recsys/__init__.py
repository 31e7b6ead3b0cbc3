"""recsys: PinnerSage-style multi-interest retrieval over fixed item embeddings,
with co-purchase neighbours, popularity and a content-cluster cold start.

The algorithm modules (``embeddings``, ``interests``, ``index``, ``retrieval``,
``recommender``, ``evaluation``) are pure: plain arrays and frames in, plain
data out. ``specs`` is the edge: it loads the data and serves the tools.
"""
