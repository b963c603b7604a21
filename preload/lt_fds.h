/* The shim's own descriptors (lt_fds.c). */
#ifndef LT_FDS_H
#define LT_FDS_H

/* Moves a new descriptor out of the program's way (a high number, close-on-exec); returns the new number. */
int lt_fd_move_high(int fd);

#endif /* LT_FDS_H */
