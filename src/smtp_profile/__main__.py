from smtp_profile.cli import main

main()
