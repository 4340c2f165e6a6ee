"""microcalc.export"""
