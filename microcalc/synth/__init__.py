"""microcalc.synth"""
