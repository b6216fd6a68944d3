// Placeholder until the Models module lands.
enum ModelsModule {}
