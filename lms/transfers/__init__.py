"""Accepting transferred training"""
