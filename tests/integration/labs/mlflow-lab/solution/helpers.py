def rows(frame):
    return frame.shape
