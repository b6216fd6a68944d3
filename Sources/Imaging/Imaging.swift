// Placeholder until the Imaging module lands.
enum ImagingModule {}
