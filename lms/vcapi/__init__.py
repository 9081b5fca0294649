"""W3C VC API endpoints"""
