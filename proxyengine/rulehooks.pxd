# compiled as it is (proxyengine/compile.py): no C types declared
