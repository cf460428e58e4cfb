"""Pump vibration analytics (P2–P4, P8, P9): pure functions over numpy arrays.

Units throughout, unless a function says otherwise: time in s, frequency in Hz, speed in rpm
(``fr`` = running speed in Hz), acceleration in m/s², velocity in mm/s, displacement in µm,
spectral amplitudes are *peak* amplitudes of a Hann-windowed, amplitude-corrected FFT.

    from analytics.vibration.analyze import analyze_capture
    result = analyze_capture(acc_xyz, fs=25600.0, rpm=2970.0, bearing="6205")
    print(result.to_json())
"""
