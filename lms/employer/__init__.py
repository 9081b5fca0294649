"""Employers: requirements, recertification, training matrix, exports"""
