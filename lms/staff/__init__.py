"""Staff records: bulk import"""
