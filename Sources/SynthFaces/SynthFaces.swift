// Placeholder until the SynthFaces module lands.
enum SynthFacesModule {}
