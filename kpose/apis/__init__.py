"""Recipes' shared steps, model loading and inference."""
