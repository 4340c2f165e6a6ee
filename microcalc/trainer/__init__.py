"""microcalc.trainer"""
