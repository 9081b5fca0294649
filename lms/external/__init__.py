"""External training recorded by managers"""
