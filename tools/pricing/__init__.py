"""Pricing: the price features a model should see (the zero price as its own
regime, shipping as its own component, discounts, charm endings, category
interactions) and a conversion model with a never-convert segment, compared
with a plain logistic baseline on price."""
