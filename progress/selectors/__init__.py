"""Reads of where trainees stand: the engine's facts gathered from the database (facts) and the reports evaluated
from them (reports). The caller has checked access to the enrollments it passes in."""
