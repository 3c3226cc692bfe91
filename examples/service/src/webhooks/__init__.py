"""Outgoing webhooks: signed deliveries to customer endpoints."""
