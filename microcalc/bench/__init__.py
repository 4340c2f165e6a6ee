"""microcalc.bench"""
