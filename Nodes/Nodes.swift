enum NodesModule {}
