"""microcalc.imaging"""
