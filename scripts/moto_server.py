"""moto's threaded server on 127.0.0.1:PORT, exiting as soon as the process that started it
is gone (it watches its parent), so no server outlives the tests or `make bench`.

usage: moto_server.py PORT   (prints "ready" once it listens)
"""
import os
import sys
import time

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(0.2)
server.stop()
