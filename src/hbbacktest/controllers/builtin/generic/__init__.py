"""Generic controllers (Hummingbot's ``controllers/generic``): their own executor types."""
