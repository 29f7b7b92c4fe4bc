"""The challenge model: the spec, loading and discovery, packs, generated material."""
