"""JSON API for integrations"""
