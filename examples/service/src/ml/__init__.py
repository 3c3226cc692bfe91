"""Demand forecasting: how many API requests each hour will bring, for capacity and commit planning."""
