"""Mentors and assessors: observed practice, evidence, sign-off"""
