/* Fatal signals: end the stream, then die of the same signal (lt_signals.c). */
#ifndef LT_SIGNALS_H
#define LT_SIGNALS_H

/* Installs the crash handlers, on the signals whose action is still the default. */
void lt_signals_install(void);

#endif /* LT_SIGNALS_H */
