"""接警 intake analysis: text normalisation and parsers, address and geocoding, type suggestion,
duplicate detection, 12345 diversion and risk flags."""
