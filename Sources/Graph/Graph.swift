// Placeholder until the Graph module lands.
enum GraphModule {}
