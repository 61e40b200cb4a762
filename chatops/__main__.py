from chatops.cli.main import main

main()
