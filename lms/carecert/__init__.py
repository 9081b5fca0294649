"""The Care Certificate: tracker, phased sign-off, award"""
